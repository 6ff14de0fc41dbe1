import AWS

extension CommandLineOptions {
    /// The health report file: `--health-file`, else `SAGEMAKER_CALLBACK_HEALTH_FILE`, else
    /// ``HealthFile/defaultPath``. `serve` writes it; `health` reads it.
    public func healthFilePath(_ environment: Environment) throws(ConfigurationError) -> String {
        let option = healthFile != nil ? "--health-file" : "SAGEMAKER_CALLBACK_HEALTH_FILE"
        let path = healthFile ?? environment["SAGEMAKER_CALLBACK_HEALTH_FILE"] ?? HealthFile.defaultPath
        guard !path.isEmpty else { throw ConfigurationError(option: option, message: "is empty") }
        guard !path.hasSuffix("/") else {
            throw ConfigurationError(option: option, message: "'\(path.prefix(200))' names a directory, not a file")
        }
        return path
    }
}
