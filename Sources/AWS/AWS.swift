// The AWS module. (Placeholder until the module lands.)
