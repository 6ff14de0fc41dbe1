import CallbackStore
import ArgumentParser
import Relay

/// `list`: what the store holds.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show pending callbacks, early events, undelivered outcomes and rejected messages."
    )

    @Flag(name: .long, help: "One JSON object, for machines.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Rows shown of each kind.", valueName: "n"))
    var limit = 100

    @OptionGroup var store: StoreOption
    @OptionGroup var aws: AWSOptions

    func run() async throws {
        let session = try await CommandSession(store: store, aws: aws)
        defer { session.close() }
        let listing = try await Listing.read(session.database, limit: max(1, limit))
        let now = WallClock.millisecondsNow()
        print(json ? listing.json(now: now) : listing.text(now: now))
    }
}
