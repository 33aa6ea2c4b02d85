package rooms

import (
	"errors"
	"fmt"
	"strings"
)

// ConfigError is what is wrong with one setting of ManagerOptions (or of
// lobby.Options, which reports with it too): Field is the path of its field
// ("MailboxSize"), Problem what is wrong, with the value ("must be
// positive, got -1"). Another setting a problem compares with is named by
// its field's path. It is engine.ConfigError's equivalent for the packages
// that import nothing else of ours; both have a ConfigField method, through
// which games.Config.Validate reports every layer's problems under the
// field's path in games.Config ("Rooms.MailboxSize").
type ConfigError struct {
	Field   string
	Problem string
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Problem }

// ConfigField returns the error's field and problem.
func (e *ConfigError) ConfigField() (field, problem string) { return e.Field, e.Problem }

// Validate reports what is wrong with o, all of it at once: an error joining
// one *ConfigError per invalid setting, or nil. Zero fields are valid (they
// take their defaults). NewManager, which cannot fail, logs what Validate
// reports and takes the default for each invalid value: options that come
// from users should be validated first (games.New does).
func (o ManagerOptions) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if o.Executors < 0 {
		bad("Executors", "must not be negative (0: automatic), got %d", o.Executors)
	}
	if o.MailboxSize < 0 {
		bad("MailboxSize", "must be positive, got %d", o.MailboxSize)
	}
	if o.MaxMessageBytes < 0 {
		bad("MaxMessageBytes", "must be positive, got %d", o.MaxMessageBytes)
	}
	if o.MaxWaitingPerPlayer < -1 {
		bad("MaxWaitingPerPlayer", "must be positive, or -1 for no cap, got %d", o.MaxWaitingPerPlayer)
	}
	if o.MaxWaitingPerAddr < -1 {
		bad("MaxWaitingPerAddr", "must be positive, or -1 for no cap, got %d", o.MaxWaitingPerAddr)
	}
	if len(o.IDPrefix) > 16 || strings.Trim(o.IDPrefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		bad("IDPrefix", "must be at most 16 characters of A-Z a-z 0-9 - _, got %q", o.IDPrefix)
	}
	return errors.Join(errs...)
}
