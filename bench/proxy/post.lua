-- wrk script: every request POSTs a 64 KiB body (wrk adds its Content-Length).
wrk.method = "POST"
wrk.body = string.rep("x", 65536)
wrk.headers["Content-Type"] = "application/octet-stream"
