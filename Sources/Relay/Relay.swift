// The Relay module. (Placeholder until the module lands.)
