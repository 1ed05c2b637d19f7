import Foundation

/// English-like notes and questions for the meaning phase: what agents
/// leave for each other (a fault, when it happens, what to do), on a dozen
/// topics, made from phrase lists with SplitMix64 so every run writes the
/// same texts. A model sees real words in real grammar, so its vectors
/// spread as they would over real notes; the made-up `Vocabulary` words of
/// the other workloads would all land in one corner of the space.
///
/// A subject may have other names (`"the nightly build|the overnight CI
/// run"`): notes use the first, questions any of them, so a question is a
/// paraphrase of the notes it should find, not a copy of their words.
enum Prose {
    struct Topic {
        var subjects: [String]
        var faults: [String]
        var conditions: [String]
        var advice: [String]
        var details: [String]
    }

    static let topics: [Topic] = [
        Topic(subjects: ["the nightly build|the overnight CI run|the scheduled build", "the release pipeline|the deploy pipeline|shipping a release",
                         "the arm64 runner|the ARM build machine|the aarch64 worker", "the integration tests|the end-to-end suite|the e2e tests",
                         "the Docker image build|the container build|building the image", "the dependency cache|the package cache|cached dependencies"],
              faults: ["fails with a linker error", "times out after forty minutes", "hangs without any output", "runs out of disk space",
                       "picks up a stale toolchain", "breaks on a flaky network test", "uploads an empty artifact", "skips half of the test targets"],
              conditions: ["when two jobs share the same cache key", "right after the compiler upgrade", "on Mondays when the mirror resyncs",
                           "if the lockfile was edited by hand", "whenever the runner reboots mid-job", "since we moved to the new region"],
              advice: ["clear the cache and run it again", "pin the toolchain to the previous version", "ask Priya before touching the runner config",
                       "retry once, then open a ticket", "split the job into two smaller stages", "check the free space on /var first"],
              details: ["The logs are kept for seven days in the CI bucket.", "Most failures show up in the last ten minutes of the run.",
                        "We tried raising the timeout but it only hid the problem.", "The fix from last spring was reverted by accident.",
                        "Nobody owns this job officially, so write down what you change."]),
        Topic(subjects: ["the payments service|the billing backend|the service that charges cards", "the refund worker|the refunds job|processing refunds",
                         "the invoice generator|the monthly invoices|making invoices", "the currency conversion|exchange rates|converting prices"],
              faults: ["charges some customers twice", "rounds amounts to the wrong cent", "drops webhooks from the card processor",
                       "returns a 502 for large baskets", "double counts partial refunds", "sends invoices in the wrong language"],
              conditions: ["when the provider retries a webhook", "for orders paid in yen", "after midnight UTC at the end of a month",
                           "if a coupon covers the whole amount", "during the weekly database backup"],
              advice: ["check the idempotency key first", "never replay the queue by hand", "reconcile against the provider's export",
                       "page the finance on-call if the total is off", "use the sandbox account to reproduce it"],
              details: ["The provider's dashboard lags by about ten minutes.", "Every manual correction must be written in the ledger notes.",
                        "Finance closes the books on the third working day.", "The old retry logic lives in a file nobody reads."]),
        Topic(subjects: ["the login page|signing in|the sign-in form", "password reset|resetting a password|the forgotten password flow",
                         "the session cookie|user sessions|the auth token", "single sign-on|SSO with the company directory|the SAML login"],
              faults: ["logs users out after a minute", "loops back to the start page", "rejects valid passwords", "shows a blank screen on Safari",
                       "emails a link that has already expired", "lets an old token through"],
              conditions: ["behind the corporate proxy", "when the clock on the laptop is wrong", "for accounts created before March",
                           "if third-party cookies are blocked", "right after a deploy of the auth service"],
              advice: ["look at the token expiry in the server logs", "test with a private window first", "rotate the signing key only on Tuesdays",
                       "ask the security team before changing scopes", "compare the clock skew on both hosts"],
              details: ["Support gets about twenty tickets a day about this.", "The directory team changes certificates without telling anyone.",
                        "Mobile apps cache the token for a whole week.", "A workaround is documented on the internal wiki."]),
        Topic(subjects: ["the search index|full-text search|finding documents", "the recommendation model|product suggestions|the recommender",
                         "the nightly data export|the warehouse export|exporting data", "the analytics dashboard|the metrics dashboard|the charts"],
              faults: ["returns results from last week", "ranks old items above new ones", "misses every document with an accent",
                       "shows numbers twice as high as the logs", "takes minutes to load", "stops updating without an error"],
              conditions: ["after the schema migration", "when the export overlaps the backup window", "for queries longer than ten words",
                           "if the cluster loses a node", "once the table passes a billion rows"],
              advice: ["rebuild the index from the snapshot", "check the time zone of the source table", "compare against a raw SQL count",
                       "restart the consumer, not the whole cluster", "ask the data team which version is live"],
              details: ["The dashboard caches every chart for an hour.", "Sampling was turned on quietly last quarter.",
                        "Two teams read the same table with different filters.", "The export job writes its own log next to the files."]),
        Topic(subjects: ["the office printer|the printer on the second floor|printing", "the meeting room screen|the conference display|screen sharing",
                         "the guest wifi|the visitor network|wifi for guests", "the badge reader|the door access|getting into the building"],
              faults: ["jams on double-sided pages", "shows no signal from laptops", "drops everyone every few minutes", "refuses new badges",
                       "prints every page twice", "needs a restart each morning"],
              conditions: ["on the first day of each month", "when more than twenty people join", "with USB-C adapters",
                           "after the power cut last week", "if the cleaning crew unplugs it"],
              advice: ["call facilities instead of IT", "use the HDMI cable taped under the table", "reset it with the button at the back",
                       "book the small room instead", "ask reception for a temporary pass"],
              details: ["The spare toner is in the cupboard by the kitchen.", "Facilities answer faster on their chat channel than by email.",
                        "The vendor visits every other Thursday.", "Nobody knows the admin password for the old model."]),
        Topic(subjects: ["the sourdough starter|the bread starter|our starter", "the coffee machine|the espresso maker|making coffee",
                         "the sugar supply|the sugar pile|where the sugar is", "the freezer in the kitchen|the office freezer|frozen food"],
              faults: ["smells sour and smells of acetone", "leaks water onto the counter", "is hidden behind the loose brick",
                       "keeps icing over", "runs out every Friday", "makes a loud grinding noise"],
              conditions: ["when the kitchen gets too warm", "after someone descales it with vinegar", "if it is fed only once a day",
                           "during the summer months", "when the door is not shut firmly"],
              advice: ["feed it twice a day with rye flour", "descale it with the proper tablets", "keep a spare bag in the top drawer",
                       "defrost it over the weekend", "write your name on anything you leave"],
              details: ["The jar with the blue lid is the good one.", "The manual says to clean the drip tray daily.",
                        "Someone labelled the shelf but the label fell off.", "There is a sign-up sheet for cleaning duty on the fridge."]),
        Topic(subjects: ["the tomato plants|the tomatoes|the greenhouse tomatoes", "the lawn|the grass in the back|the garden lawn",
                         "the apple tree|the old apple tree|our apples", "the compost heap|the compost|the compost bin"],
              faults: ["get yellow leaves from the bottom up", "has brown patches after mowing", "drops its fruit before it ripens",
                       "attracts rats", "splits its fruit after rain", "stops growing in July"],
              conditions: ["after a week of heavy rain", "when it is watered in the evening", "if the soil is too acidic",
                           "in a dry summer", "once the nights turn cold"],
              advice: ["water at the roots in the morning", "add lime in the autumn", "turn it every two weeks",
                       "net it before the birds find it", "cut the lower leaves away"],
              details: ["The soil test kit is in the shed.", "Last year the same thing happened in August.",
                        "The neighbour swears by coffee grounds.", "The hose by the gate has a slow leak."]),
        Topic(subjects: ["the train to the airport|the airport train|getting to the airport", "the hotel booking|our hotel reservation|the room booking",
                         "the rental car|the hire car|the car we rented", "the visa application|the travel visa|applying for the visa"],
              faults: ["is cancelled without notice", "was booked for the wrong dates", "needs a credit card in the driver's name",
                       "takes six weeks to process", "charges a fee for early check-in", "leaves from a different platform"],
              conditions: ["on public holidays", "when the strike goes ahead", "for stays longer than a week",
                           "if the passport expires within six months", "during the trade fair"],
              advice: ["take the bus from terminal two instead", "book through the company portal", "print the confirmation email",
                       "apply at least two months ahead", "ask the travel desk to call them"],
              details: ["The travel desk is open until five.", "Receipts must be uploaded within thirty days.",
                        "The last train leaves just after midnight.", "The portal sometimes shows prices without tax."]),
        Topic(subjects: ["the database backups|backing up the database|the nightly snapshots", "the disk on the storage server|storage space|the file server",
                         "the monitoring alerts|our alerts|the paging system", "the TLS certificates|the certificates|HTTPS certificates"],
              faults: ["silently stop running", "fill up faster than expected", "page the wrong person", "expire over the weekend",
                       "cannot be restored on the new version", "wake everyone up for nothing"],
              conditions: ["when the retention policy changes", "after the cluster was resized", "on the last day of the quarter",
                           "if the renewal job loses its credentials", "while the replica is catching up"],
              advice: ["test a restore every month", "raise the threshold to ninety percent", "check the renewal log every Friday",
                       "move old snapshots to cold storage", "update the on-call rota in the tool"],
              details: ["The restore guide was last checked in January.", "Each snapshot is kept for fourteen days.",
                        "The alert thresholds were copied from an old template.", "Only two people have the keys to the vault."]),
        Topic(subjects: ["the quarterly report|the report for the board|the quarter's numbers", "the team offsite|our offsite|the planning retreat",
                         "the hiring pipeline|interviews|the recruiting process", "the onboarding checklist|onboarding new people|the first week plan"],
              faults: ["is missing the numbers from Europe", "clashes with the school holidays", "loses candidates after the second round",
                       "still lists tools we no longer use", "has no owner this quarter", "is due two days earlier than we thought"],
              conditions: ["when finance changes the template", "if the venue cancels", "for senior roles",
                           "after the reorganisation", "when a manager is on leave"],
              advice: ["send the draft to Marta first", "book the venue before the end of the month", "answer candidates within two days",
                       "pair every newcomer with a buddy", "keep the checklist in the shared drive"],
              details: ["Last year the board asked for more detail on costs.", "The budget for travel is already half spent.",
                        "Feedback forms go out the week after.", "The template lives in the finance folder."]),
    ]

    /// The question words a query starts with.
    static let openers = ["why does", "what to do when", "how do we fix it when", "anyone know why", "is there a note on why",
                          "what is the workaround when", "who knows why", "help:"]

    private static func names(_ subject: String) -> [String] { subject.split(separator: "|").map(String.init) }

    private static func pick<T>(_ list: [T], _ rng: inout SplitMix64) -> T { list[Int(rng.next() % UInt64(list.count))] }

    private static func capitalised(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }

    /// One sentence of `topic`: a subject, its fault, when, and what to do
    /// (`short`: when or what to do).
    private static func sentence(_ topic: Topic, _ rng: inout SplitMix64, short: Bool = false) -> String {
        let subject = names(pick(topic.subjects, &rng))[0]
        let fault = pick(topic.faults, &rng)
        if short {
            return rng.next() % 2 == 0 ? capitalised("\(subject) \(fault) \(pick(topic.conditions, &rng)).")
                : capitalised("\(subject) \(fault); \(pick(topic.advice, &rng)).")
        }
        return capitalised("\(subject) \(fault) \(pick(topic.conditions, &rng)); \(pick(topic.advice, &rng)).")
    }

    /// Note `index` of the set named `salt`: sentences of one topic until the
    /// body holds about `bytes` bytes (one short sentence for 100, a
    /// paragraph for 2,000), ending with a reference that makes every body distinct.
    static func note(_ index: Int, bytes: Int, salt: String) -> String {
        var rng = SplitMix64(seed: UInt64(index) &* 0x9E37_79B9_7F4A_7C15 ^ salt.hashValueStable)
        let topic = pick(topics, &rng)
        let reference = " (ref \(index))"
        var body = sentence(topic, &rng, short: bytes < 200)
        while body.utf8.count + reference.utf8.count < bytes - 40 {
            body += " " + (rng.next() % 3 == 0 ? pick(topic.details, &rng) : sentence(topic, &rng))
        }
        return body + reference
    }

    /// `count` distinct questions, from question 0 on.
    static func questions(_ count: Int) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        var i = 0
        while out.count < count {
            let q = question(i)
            if seen.insert(q).inserted { out.append(q) }
            i += 1
        }
        return out
    }

    /// Question `index`: short, in other words than the notes where the
    /// subject has other names ("why does the overnight CI run hang without
    /// any output").
    static func question(_ index: Int) -> String {
        var rng = SplitMix64(seed: UInt64(index) &* 0xD1B5_4A32_D192_ED03 &+ 0x51)
        let topic = pick(topics, &rng)
        let subject = pick(names(pick(topic.subjects, &rng)), &rng)
        let fault = pick(topic.faults, &rng)
        var q = "\(pick(openers, &rng)) \(subject) \(fault)"
        if rng.next() % 2 == 0 { q += " " + pick(topic.conditions, &rng) }
        return q
    }
}
