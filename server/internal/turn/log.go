package turn

import (
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// logFactory hands pion a logger that writes to ours at debug level: what
// pion reports is about single packets from the network (malformed STUN,
// a client gone), not something to act on.
type logFactory struct{ log *slog.Logger }

func (f logFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLog{f.log.With("scope", scope)}
}

type pionLog struct{ log *slog.Logger }

func (l pionLog) Trace(string)                   {}
func (l pionLog) Tracef(string, ...any)          {}
func (l pionLog) Debug(msg string)               { l.log.Debug(msg) }
func (l pionLog) Debugf(format string, a ...any) { l.log.Debug(fmt.Sprintf(format, a...)) }
func (l pionLog) Info(msg string)                { l.log.Debug(msg) }
func (l pionLog) Infof(format string, a ...any)  { l.log.Debug(fmt.Sprintf(format, a...)) }
func (l pionLog) Warn(msg string)                { l.log.Debug(msg) }
func (l pionLog) Warnf(format string, a ...any)  { l.log.Debug(fmt.Sprintf(format, a...)) }
func (l pionLog) Error(msg string)               { l.log.Debug(msg) }
func (l pionLog) Errorf(format string, a ...any) { l.log.Debug(fmt.Sprintf(format, a...)) }
