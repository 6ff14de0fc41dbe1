// The HTTP module. (Placeholder until the module lands.)
