package vrrp

import (
	"io"

	"go.uber.org/zap/zapcore"
)

// zapcoreFor logs everything, as JSON lines, to w.
func zapcoreFor(w io.Writer) zapcore.Core {
	return zapcore.NewCore(zapcore.NewJSONEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level", EncodeLevel: zapcore.LowercaseLevelEncoder}),
		zapcore.AddSync(w), zapcore.DebugLevel)
}
