import MCP

/// The prompt `trail_practice`: the practice of docs/agents.md, told to a
/// model as instructions it can follow with these tools, plus the session's
/// namespace and agent name.
public enum PracticePrompt {
    public static let name = "trail_practice"

    /// The prompt's listing: one optional argument, the task at hand.
    public static let prompt = Prompt(
        name: name,
        title: "Working on the trail",
        description: "How to use the shared trail memory well: sense lightly first, follow trails to go deep, leave many small linked notes as you work, reinforce what helped, repel what misled, retract what did harm.",
        arguments: [
            .init(name: "task", title: "Task",
                  description: "What you are about to work on (optional): the prompt then says how to start on it.",
                  required: false),
        ])

    /// The prompt's messages for a session set up with `configuration`.
    public static func messages(_ configuration: TrailMCPConfiguration, task: String?) -> GetPrompt.Result {
        GetPrompt.Result(description: prompt.description, messages: [.user(.text(text: text(configuration, task: task)))])
    }

    /// The text of the prompt.
    public static func text(_ configuration: TrailMCPConfiguration, task: String?) -> String {
        let ns = configuration.namespace
        let agent = configuration.agent.map { "Your writes are recorded as agent \"\($0)\"." } ?? ""
        var start = """
        Start now: call trail_sense with the default budget\
        \(task == nil ? ", adding `query` words from your task if you have one" : ", with a `query` made of the key words of your task"), \
        and read what comes back before you begin.
        """
        if let task, !task.allSatisfy(\.isWhitespace) {
            start = "Your task: \(task)\n\n" + start
        }
        return """
        You share a memory with other agents through trail: a store of small notes that agent instances leave \
        for each other, like the marks of an ant trail. Every note has a weight that fades with time (it halves \
        every half-life of its namespace, 7 days by default) and grows when agents deposit the same note again \
        or reinforce it; notes are joined by trails that agents walked from one note to the next. The marks that \
        keep being useful stay strong; the rest fade away. Your part is to read lightly, leave good marks, and \
        react to what you read, so that the colony gets smarter instead of noisier.

        Namespace: "\(ns)". Every trail tool uses it unless you pass `ns`; a namespace is a colony (a team or a \
        project, not one agent), so stay in it unless told otherwise. \(agent)

        1. Sense lightly first. At the start, call trail_sense with its default small budget (\(configuration.senseBudget) bytes \
        of note bodies), adding `query` words from your task or `tags` when you can. Do not ask for everything: \
        you get the strongest notes that fit, never a truncated one. `query` finds exact words (names, \
        identifiers, error strings); when you do not know the words a colleague used, pass `similar` instead: \
        what you are looking for, in your own words, and notes are found by meaning (each shows its similarity).

        2. Follow trails to go deep. When a note bears on your task, call trail_follow on it (direction \
        "backward" shows what led there) instead of sensing wider; trail_get shows one note in full with its \
        trails and history. Now and then pass `explore` (say 0.5) to try a weaker path, so the colony does not \
        lock onto one route while a better one fades unseen.

        3. Leave many small notes, as you work. Each time you find something (a cause, a fix, a command that \
        works, a decision and why), call trail_deposit right away, one finding per note:
           - plain, factual and self-contained: name the file, the command, the version, the error text. Write \
        the finding, not the story: "WAL needs a local disk", not "after a long afternoon I realised...". \
        Short plain sentences collide usefully: when another agent deposits the same sentence it lands on your \
        note (the id is the hash of the body) and adds to its weight instead of making a copy;
           - `after`: the ids of the notes that led you to it, so the next agent can follow the trail to yours;
           - a few `tags` others will filter by: the area (build, tests, deploy, api, db), the thing (a \
        component, file or tool, an issue like issue:42), the kind (bug, workaround, decision, howto, warning, \
        todo). Reuse tags you have seen on notes rather than near-synonyms (test and tests split the colony); \
        never your own name or the date, which the daemon records;
           - never secrets, tokens or personal data: everyone in the namespace reads them, and history keeps them.
        When the daemon compares meanings, a note that says what a live note already says in other words is \
        merged into it (trail_deposit tells you, and shows that note): the lesson gains weight instead of a \
        near-duplicate. A correction reads as close to what it corrects as a rewording does; the daemon keeps \
        it apart when the two differ in a number, version, name, path, flag or a negation, and says which note \
        it contests. Still deposit a correction `after` the note it corrects (never merged into), and when you \
        differ only in a word the daemon cannot weigh (Redis against Memcached), pass merge_similar: 0.
        Do not save it all for one long hand-off at the end: a session can end at any moment, and notes \
        deposited as you go are already safe. A long note is all or nothing in a reader's budget; small ones \
        are ranked and reinforced one by one.

        4. React to what you read; it is how the colony learns which marks are good:
           - trail_reinforce a note that actually saved you work (not every note you read);
           - trail_repel a note that was stale, vague or wrong for your case, then deposit what is true \
        instead with `after` set to it, so the trail leads from the mistake to the fix;
           - trail_retract a note that is wrong and would send the next agent into a wall, with a `reason` \
        that says what is wrong and what to do instead: everyone who reads the note sees it, and a new deposit \
        of the same body is refused with it. trail_revive undoes a retraction;
           - when your work ends what a note said was under way (a claim on an item, a deployment), do not \
        retract that note, it was not wrong: close it. Deposit how it ended in its own words plus the outcome \
        ("queue item-017: claimed by worker-42, now done"), with `after` set to it and a `strength` above its \
        weight (trail_reinforce answers the weight), so that whoever finds it finds the ending ranked first;
           - trail_link one note to another when you found that the first leads to the second.

        5. Read weights for what they are: a high weight means others keep finding the note useful recently, \
        not that it is true; still check it against what you see. Notes nobody uses fade by themselves, so you \
        need not clean up: retract only what does harm now. Use `strength` or `delta` above 1 only for findings \
        you verified and others will need.

        Ids are shown as 12-digit prefixes; every tool accepts them (any unique prefix of 8 or more hex digits).

        \(start)
        """
    }

    /// The server's `instructions`, which hosts may add to the system prompt:
    /// the practice in five lines.
    public static func instructions(_ configuration: TrailMCPConfiguration) -> String {
        """
        trail is a memory shared with other agents, in namespace "\(configuration.namespace)". \
        Start a task with trail_sense (its small default budget is enough; `query` for exact words, `similar` to \
        find notes by meaning in your own words) and trail_follow the notes that matter. \
        As you work, trail_deposit one small, plain finding per note, with `after` set to the notes that led you \
        there and a few tags others will search by; never one long summary at the end, never secrets. \
        trail_reinforce what helped, trail_repel what misled, trail_retract (with a reason) what did harm. \
        The prompt trail_practice explains the practice in full.
        """
    }
}
