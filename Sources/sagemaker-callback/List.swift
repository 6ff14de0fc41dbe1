import ArgumentParser
import AWS
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

    func run() async throws {
        let location = try CommandLineOptions(store: store, aws: nil).storeLocation(.process)
        let database = try CallbackRelay.openStore(location)
        defer { database.close() }
        let listing = try await Listing.read(database, limit: max(1, limit))
        let now = WallClock.millisecondsNow()
        print(json ? listing.json(now: now) : listing.text(now: now))
    }
}
