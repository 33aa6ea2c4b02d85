package comet

// Validate reports what is wrong with c, all of it at once: an error
// joining one *engine.ConfigError per invalid setting (engine.ConfigErrors
// lists them), or nil. NewHub validates too; Validate lets a program check
// a configuration before building anything.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}
