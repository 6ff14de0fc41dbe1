// The Store module. (Placeholder until the module lands.)
