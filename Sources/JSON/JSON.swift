// The JSON module. (Placeholder until the module lands.)
