// The SigV4 module. (Placeholder until the module lands.)
