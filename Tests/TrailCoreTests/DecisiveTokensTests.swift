import Testing
@testable import TrailCore

@Suite("Decisive tokens (a correction is never merged)")
struct DecisiveTokensTests {
    /// Pairs that differ in one decisive token, one or more of each kind:
    /// each must disagree, both ways round.
    static let corrections: [(String, String)] = [
        // identifiers
        ("The flaky build on NFS: fix-3 resolved it.", "The flaky build on NFS: fix-5 resolved it."),
        ("Deploy to us-east-1 first; it has the spare capacity.", "Deploy to eu-west-2 first; it has the spare capacity."),
        ("The orders-api deployment leaks file descriptors.", "The orders-worker deployment leaks file descriptors."),
        ("The session cache lives in RedisCache now.", "The session cache lives in MemoryCache now."),
        ("Link against libssl3 on Debian 12.", "Link against libssl1 on Debian 12."),
        // numbers and units
        ("Set the request timeout to 30 s or the upload aborts.", "Set the request timeout to 60 s or the upload aborts."),
        ("The worker needs 512MB of memory to start.", "The worker needs 512GB of memory to start."),
        ("Retry the flaky test 3 times before calling it broken.", "Retry the flaky test 5 times before calling it broken."),
        ("Keep the pool at 1,000 connections.", "Keep the pool at 10,000 connections."),
        // versions
        ("Pin the toolchain to gcc 12.2 to avoid the miscompile.", "Pin the toolchain to gcc 13.1 to avoid the miscompile."),
        ("swift-nio 2.65.0 fixed the leak.", "swift-nio 2.64.0 fixed the leak."),
        // negations
        ("The cache works on NFS.", "The cache does not work on NFS."),
        ("Run the migration with the service up.", "Never run the migration with the service up."),
        ("The build needs the vendored headers.", "The build works without the vendored headers."),
        ("The linter checks generated files.", "The linter doesn't check generated files."),
        // works against fails
        ("After the upgrade the integration suite passes.", "After the upgrade the integration suite fails."),
        ("Rebuilding the index fixed the slow query.", "Rebuilding the index broke the slow query."),
        // paths, flags, keys, variables, URLs, quoted strings
        ("The config is read from /etc/trail/traild.conf at start.", "The config is read from /etc/traild.conf at start."),
        ("Run the tests with --serial or they deadlock.", "Run the tests with --parallel or they deadlock."),
        ("Build with -j2 on the CI runners.", "Build with -j8 on the CI runners."),
        ("Set log_level=debug to see the handshake.", "Set log_level=trace to see the handshake."),
        ("Export RUST_LOG before starting the agent.", "Export RUST_BACKTRACE before starting the agent."),
        ("The daemon reads $HOME to find its socket.", "The daemon reads $XDG_RUNTIME_DIR to find its socket."),
        ("The docs are at https://example.com/v1/docs for the old API.", "The docs are at https://example.com/v2/docs for the old API."),
        ("Mark the ticket \"won't fix\" when it is a duplicate.", "Mark the ticket \"needs triage\" when it is a duplicate."),
        ("Use `sense` with a budget before you act.", "Use `recall` with a budget before you act."),
        ("The status must be 'done' before merging.", "The status must be 'ready' before merging."),
        // capitals
        ("The flaky build only happens on NFS mounts.", "The flaky build only happens on SMB mounts."),
    ]

    /// Pairs that say the same thing in other words, their decisive tokens
    /// kept: none may disagree.
    static let rewordings: [(String, String)] = [
        ("The flaky build on NFS: fix-3 resolved it.", "On NFS the flaky build was resolved by fix-3."),
        ("Set the request timeout to 30 s or the upload aborts.", "Uploads abort unless the request timeout is set to 30 seconds."),
        ("The worker needs 512MB of memory to start.", "To start, the worker needs 512 MB of memory."),
        ("The cache does not work on NFS.", "On NFS the cache doesn't work."),
        ("After the upgrade the integration suite passes.", "The integration suite passed once we upgraded."),
        ("Run the tests with --serial or they deadlock.", "Tests deadlock unless run with `--serial`."),
        ("The config is read from /etc/trail/traild.conf at start.", "At start, the daemon reads /etc/trail/traild.conf for its config."),
        ("Keep the pool at 1,000 connections.", "Hold the pool at 1000 connections."),
        ("This is a short-lived agent, e.g. a CI job.", "This is a short-lived agent, such as a CI job."),
        ("Don't retry the upload -- it duplicates rows.", "Never retry the upload: it duplicates rows."),
        ("It's the agent's own cache that went stale.", "The stale cache was the agent's own."),
    ]

    @Test("every correction disagrees, both ways round", arguments: Self.corrections.indices)
    func correction(_ i: Int) {
        let (a, b) = Self.corrections[i]
        #expect(DecisiveTokens.disagree(a, b), "\(a) | \(b): \(DecisiveTokens(a).tokens) \(DecisiveTokens(b).tokens)")
        #expect(DecisiveTokens.disagree(b, a))
        #expect(!DecisiveTokens(a).differences(from: DecisiveTokens(b)).isEmpty)
    }

    @Test("no rewording disagrees", arguments: Self.rewordings.indices)
    func rewording(_ i: Int) {
        let (a, b) = Self.rewordings[i]
        #expect(!DecisiveTokens.disagree(a, b),
                "\(a) | \(b): \(DecisiveTokens(a).differences(from: DecisiveTokens(b)))")
    }

    @Test("a body agrees with itself")
    func itself() {
        for (a, _) in Self.corrections { #expect(!DecisiveTokens.disagree(a, a)) }
    }

    @Test("numbers carry their unit, written one way")
    func numbers() {
        #expect(DecisiveTokens("wait 30s").tokens == ["30 s"])
        #expect(DecisiveTokens("wait 30 sec").tokens == ["30 s"])
        #expect(DecisiveTokens("wait 30 seconds, then retry").tokens == ["30 s"])
        #expect(DecisiveTokens("3 retries").tokens == ["3"])
        #expect(DecisiveTokens("1,000 rows").tokens == ["1000"])
        #expect(DecisiveTokens("use 95% of the disk").tokens == ["95 %"])
        #expect(DecisiveTokens("use 95 percent of the disk").tokens == ["95 %"])
        #expect(DecisiveTokens("0.5 ms").tokens == ["0.5 ms"])
        #expect(DecisiveTokens("512 MiB").tokens != DecisiveTokens("512 MB").tokens)
    }

    @Test("versions, paths, flags, keys and URLs are identifiers, compared as written")
    func identifiers() {
        #expect(DecisiveTokens("upgrade to 1.10.0").tokens == ["1.10.0"])
        #expect(DecisiveTokens("upgrade to 1.10.0") != DecisiveTokens("upgrade to 1.1.0"))
        #expect(DecisiveTokens("see ./build/out.log.").tokens == ["./build/out.log"])
        #expect(DecisiveTokens("pass --no-verify").tokens == ["--no-verify"])
        #expect(DecisiveTokens("set KEY=value").tokens == ["key=value"])
        #expect(DecisiveTokens("read https://example.com/a?b=1.").tokens == ["https://example.com/a?b=1"])
        #expect(DecisiveTokens("on x86_64 only").tokens == ["x86_64"])
        #expect(DecisiveTokens("call getUser first").tokens == ["getuser"])
        #expect(DecisiveTokens("v2 of the API").tokens == ["v2", "api"])
    }

    @Test("plain words are not decisive: sentence capitals, abbreviations, dashes as punctuation")
    func plainWords() {
        #expect(DecisiveTokens("Restart the agent, e.g. the nightly one -- then wait.").tokens.isEmpty)
        // A dashed word is a name (orders-api), even a compound one.
        #expect(DecisiveTokens("the orders-api pod of a short-lived job").tokens == ["orders-api", "short-lived"])
        #expect(DecisiveTokens("Redis is the cache.").tokens.isEmpty)
        #expect(DecisiveTokens("I think so.").tokens.isEmpty)
    }

    @Test("quoted strings: a quoted identifier is that identifier, a quoted phrase a token of its own")
    func quoted() {
        #expect(DecisiveTokens("run `--force` now").tokens == ["--force"])
        #expect(DecisiveTokens("label it \"won't fix\"").tokens == ["\"won't fix\""])
        #expect(DecisiveTokens("label it “needs triage”").tokens == ["\"needs triage\""])
        #expect(DecisiveTokens("it's 'done' now").tokens == ["\"done\""])
        // An apostrophe does not open a quote.
        #expect(DecisiveTokens("don't touch the agent's cache, it's fine").tokens.isEmpty)
        // A stray quote is punctuation.
        #expect(DecisiveTokens("the \"half quoted fix-2").tokens == ["fix-2"])
    }

    @Test("negation and the outcome")
    func polarity() {
        #expect(DecisiveTokens("it does not work").negates)
        #expect(DecisiveTokens("it doesn’t work").negates)
        #expect(DecisiveTokens("it cannot start").negates)
        #expect(!DecisiveTokens("it is a no-op").negates)
        #expect(DecisiveTokens("fix-3 resolved it").outcome == .works)
        #expect(DecisiveTokens("fix-3 failed").outcome == .fails)
        #expect(DecisiveTokens("fix-3 fixed the crash but the build still fails").outcome == nil)
        #expect(DecisiveTokens("the fix is fix-3").outcome == nil)
        // Both say works or fails: a negation turns either round.
        #expect(DecisiveTokens("it never fails").stance == .works && DecisiveTokens("it does not work").stance == .fails)
        #expect(!DecisiveTokens.disagree("it works", "it never fails"))
        #expect(!DecisiveTokens.disagree("X fails on NFS", "X does not work on NFS"))
        // One says so or neither: a negation on one side only is the opposite.
        #expect(!DecisiveTokens.disagree("fix-3 is the answer", "fix-3 worked"))
        #expect(!DecisiveTokens.disagree("SQLite in WAL mode needs a local disk: NFS gave SQLITE_BUSY",
                                         "SQLite WAL mode on NFS fails with SQLITE_BUSY; use a local disk"))
        #expect(DecisiveTokens.disagree("fix-3 resolved it", "fix-3 did not resolve it"))
        #expect(DecisiveTokens.disagree("The build fails on a fresh machine until libzstd is installed.",
                                        "A new machine cannot compile the project until libzstd is added."))
        #expect(DecisiveTokens("it works").differences(from: DecisiveTokens("it does not work")) == ["not"])
        #expect(DecisiveTokens("it works").differences(from: DecisiveTokens("it fails")) == ["not"])
        #expect(DecisiveTokens("fix-3 works").differences(from: DecisiveTokens("fix-5 fails")) == ["fix-3", "fix-5", "not"])
    }

    @Test("the empty body and a body of punctuation have no tokens")
    func empty() {
        #expect(DecisiveTokens("").tokens.isEmpty)
        #expect(DecisiveTokens(" -- ... ' \" ` ").tokens.isEmpty)
        #expect(!DecisiveTokens.disagree("", "   "))
    }
}
