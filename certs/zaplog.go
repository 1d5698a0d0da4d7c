package certs

import (
	"bytes"
	"context"
	"log/slog"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapLogger passes certmagic's own log (zap) to Hearth's at debug level:
// every ACME step is there for who asks (--log-level debug), and what
// matters comes from our event handler in plain words at info and warn.
func zapLogger(log *slog.Logger) *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
		MessageKey:     "msg",
		NameKey:        "logger",
		LevelKey:       "level",
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
	})
	// Nothing is encoded unless the log takes debug records.
	enabled := zap.LevelEnablerFunc(func(zapcore.Level) bool { return log.Enabled(context.Background(), slog.LevelDebug) })
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(slogWriter{log}), enabled))
}

// slogWriter writes each line zap encodes as one debug record.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(string(bytes.TrimRight(p, "\n")), "\n") {
		w.log.Debug("certmagic: " + line)
	}
	return len(p), nil
}
