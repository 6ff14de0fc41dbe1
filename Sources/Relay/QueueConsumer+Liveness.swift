extension QueueConsumer {
    /// How long a consumer may wait between cycles before the health check calls it silent:
    /// the receive's own timeout (the long poll plus 15 s), the longest backoff after a failed
    /// receive (30 s), and a margin for a loaded machine.
    static func silenceBound(waitSeconds: Int) -> Duration {
        .seconds(waitSeconds + 15 + 30 + 30)
    }
}
