// Package accesslog writes quill's access logs in Common or Combined Log
// Format and merges such logs, replacing Debian's mergelog.
//
// quill writes one merged log for all its virtual IPs, and webalizer reads
// it as is; per-VIP logs are further Loggers, each opened independently.
//
// # One writer goroutine
//
// Log formats the entry in the request's goroutine into a pooled buffer
// and queues it; a single writer goroutine per Logger owns the file, so
// lines never interleave and requests never wait on the disk.
//
// # Reorder window
//
// Requests finish out of order, but a CLF line carries the time the
// request arrived, and log analysers expect time order. The writer holds
// each line for Options.Window after its arrival time in a min-heap (by
// time, then by call order) and writes lines once their window has passed,
// checking every Window/4. A request that took longer than the window
// comes after lines already written; its line is written as soon as it is
// logged, under its own arrival time, as Apache does, so the file is in
// time order except for such slow requests. Close writes everything at
// once.
//
// # Block or drop
//
// At most Options.Buffer lines are held in memory. When that many are
// held, Log blocks until the writer makes room (Drop false: no line is
// lost) or drops the line and counts it (Drop true: a stuck disk cannot
// stall the proxy).
//
// # Reopen on SIGUSR1
//
// logrotate renames the file and signals quill, which calls Reopen to
// open the path afresh. If that fails (the directory is gone, the disk is
// read-only), Reopen reports it and the writer retries on every flush,
// holding lines in memory meanwhile, so none is lost while the buffer
// lasts.
//
// # Escaping
//
// Fields are escaped as Apache's ap_escape_logitem does: `"` and `\` get a
// backslash, \b \n \r \t \v are written as such, and other control bytes
// and bytes from 0x7f up as \xhh. A hostile request line can therefore
// neither close its quoted field nor forge a second log line.
package accesslog
