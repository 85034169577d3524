package manual

//go:generate go run ../../cmd/quill-man -readme ../../README.md -man ../../man
