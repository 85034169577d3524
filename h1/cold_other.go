//go:build !linux

package h1

// Elsewhere than on Linux, an idle connection waits on its goroutine.
func coldParking() bool   { return false }
func parkCold(*conn) bool { return false }
func unparkCold(*conn)    {}
