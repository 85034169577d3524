package main

import (
	"go.uber.org/zap/zapcore"

	"quill/config"
)

// zapLevel is the zap level of a log level the config has validated.
func zapLevel(l config.LogLevel) zapcore.Level {
	switch l {
	case config.LevelDebug:
		return zapcore.DebugLevel
	case config.LevelWarn:
		return zapcore.WarnLevel
	case config.LevelError:
		return zapcore.ErrorLevel
	}
	return zapcore.InfoLevel
}
