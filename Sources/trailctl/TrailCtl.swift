import ArgumentParser

/// `trailctl`: the operator's command line (see issue 4): placeholder until it lands.
@main
struct TrailCtl: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "trailctl", abstract: "Talk to traild.")
}
