public import SigV4
#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import Logging

/// An ordered list of credential providers: the first that returns credentials wins, and the
/// chain says which (``resolve()``).
///
/// The chain caches what it gets and asks again when the credentials expire within
/// `refreshMargin`: the provider that answered first, the others in order only when it no longer
/// does. One refresh runs at a time; callers that arrive during it await the same refresh. When
/// a refresh fails while the cached credentials have not yet expired, those are used (with a
/// warning) so a brief outage of a provider does not stop requests early.
public actor CredentialChain {
    /// The providers' names, for logs: `chain(environment, shared-files)`.
    public nonisolated let name: String

    private let providers: [any CredentialProvider]
    private let logger: Logger
    private let clock: @Sendable () -> Date
    private let refreshMargin: TimeInterval
    private var cached: Resolved?
    /// Where the provider that answered last sits in `providers`: asked first on a refresh.
    private var selected: Int?
    private var refresh: Task<Resolved, any Error>?
    /// How many callers joined a refresh already in flight (observable by tests).
    private(set) var joinedRefreshes = 0

    /// A chain asking `providers` in order. `clock` says what time it is (tests inject one);
    /// credentials are refreshed when they expire within `refreshMargin`.
    public init(
        providers: [any CredentialProvider],
        logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() },
        refreshMargin: Duration = .seconds(300)
    ) {
        self.providers = providers
        self.name = "chain(\(providers.map(\.name).joined(separator: ", ")))"
        self.logger = logger
        self.clock = clock
        let (seconds, attoseconds) = refreshMargin.components
        self.refreshMargin = TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    /// Credentials, and the name of the provider that gave them.
    public struct Resolved: Sendable {
        public var credentials: Credentials
        /// The provider's name: `environment`, `ecs-container`, ….
        public var provider: String
    }

    /// Credentials from the cache while they stay valid beyond the refresh margin (or have no
    /// expiry), else from the first provider that answers; throws ``CredentialsError`` when none
    /// does and nothing unexpired is cached.
    public func credentials() async throws -> Credentials {
        try await resolve().credentials
    }

    /// What ``credentials()`` gives, with the name of the provider that answered.
    public func resolve() async throws -> Resolved {
        if let cached, !expires(cached.credentials, within: refreshMargin) {
            return cached
        }
        if let refresh {
            joinedRefreshes += 1
            return try await refresh.value
        }
        // Unstructured so that one caller's cancellation does not fail the others waiting on it.
        let task = Task { try await self.runRefresh() }
        refresh = task
        return try await task.value
    }

    /// Fetches and caches; runs on the actor, so the cache and `refresh` change together.
    private func runRefresh() async throws -> Resolved {
        defer { refresh = nil }
        do {
            let fresh = try await fetch()
            cached = fresh
            return fresh
        } catch {
            if let cached, !expires(cached.credentials, within: 0) {
                logger.warning(
                    "AWS credentials refresh failed; using the cached ones until they expire",
                    metadata: ["aws.credentials.error": "\(error)"]
                )
                return cached
            }
            throw error
        }
    }

    /// Asks the provider that answered last, then the others in their order, each once.
    private func fetch() async throws -> Resolved {
        var order = Array(providers.indices)
        if let selected { order.removeAll { $0 == selected }; order.insert(selected, at: 0) }
        var attempts: [CredentialsError.Attempt] = []
        for index in order {
            let provider = providers[index]
            do {
                if let credentials = try await provider.credentials() {
                    logger.info("AWS credentials resolved", metadata: Self.metadata(provider, credentials))
                    selected = index
                    return Resolved(credentials: credentials, provider: provider.name)
                }
                attempts.append(.init(provider: provider.name, reason: provider.notFoundReason))
            } catch {
                // A configured but broken provider is worth a warning even when a later one answers.
                logger.warning(
                    "AWS credential provider failed",
                    metadata: ["aws.credentials.provider": "\(provider.name)", "aws.credentials.error": "\(error)"]
                )
                attempts.append(.init(provider: provider.name, reason: "\(error)"))
            }
        }
        throw CredentialsError(attempts: attempts)
    }

    private func expires(_ credentials: Credentials, within margin: TimeInterval) -> Bool {
        guard let expiration = credentials.expiration else { return false }
        return expiration.timeIntervalSince(clock()) <= margin
    }

    private static func metadata(_ provider: any CredentialProvider, _ credentials: Credentials) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["aws.credentials.provider": "\(provider.name)"]
        if let expiration = credentials.expiration {
            metadata["aws.credentials.expiration"] = "\(expiration.timeIntervalSince1970)"
        }
        return metadata
    }
}
