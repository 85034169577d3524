package config

import _ "embed"

// Reference is an annotated quill.toml that lists every key with its
// default and a comment saying what it does: the source of the README's
// configuration reference and of the man page quill-toml(5).
//
//go:embed reference.toml
var Reference string
