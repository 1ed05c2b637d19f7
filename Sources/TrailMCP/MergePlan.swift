import MCP
import TrailClient
import TrailCore
import TrailProtocol

/// How one trail_deposit call merges by meaning (`merge_similar`, SPEC.md §8).
///
/// The session's default (0.9, `TrailMCPConfiguration.defaultMergeSimilar`)
/// applies only when the call gives no `merge_similar` and the daemon says in
/// `trail.hello` that it has its embedding model, so a deposit through
/// trail-mcp never fails for want of the model. A call's own number is sent
/// as given; `0`, `false` or `null` deposit as written.
struct MergePlan: Sendable {
    /// The `merge_similar` sent; nil deposits as written.
    var threshold: Double?
    /// Whether `threshold` is the session's default rather than the call's.
    var isDefault = false
    /// The note the default would have merged the deposit into, held back
    /// because the deposit names it in `after` (see `TrailToolbox.plan`).
    var heldBack: ScoredNote?
}

extension TrailToolbox {
    /// trail_deposit: plans the merge, deposits, and for a merged deposit
    /// reads the note it went to, so the model sees what its words joined.
    func deposit(_ request: DepositRequest, merge choice: ToolArguments.Threshold?) async throws(ToolFailure) -> CallTool.Result {
        var request = request
        var plan = try await plan(request, choice)
        request.mergeSimilar = plan.threshold
        var answer: (raw: JSONValue, typed: Deposited)
        do throws(ToolFailure) {
            answer = try await send(request, .deposit)
        } catch let .daemon(e) where plan.isDefault && e.errorCode == .semanticUnavailable {
            // The daemon lost its model since its hello (restarted without it):
            // the default gives way, and nothing was written, so deposit as written.
            plan = MergePlan()
            request.mergeSimilar = nil
            answer = try await send(request, .deposit)
        }
        var into: Note?
        if answer.typed.merged == true {
            let get = GetRequest(id: answer.typed.id.hex, ns: request.ns)
            into = try? get.decode(await daemon.call(get.method, get.params, idempotent: true)).note
        }
        return .answer(ResultText.deposited(answer.typed, merge: plan, into: into), structured: Value(answer.raw), isError: false)
    }

    /// The `merge_similar` to send for `choice`, the call's own.
    ///
    /// Without one, the session default applies when the daemon compares
    /// meanings, except when the note it would merge into is named in
    /// `after`. A correction scores as close to the note it corrects as a
    /// rewording does (about 0.95 to 0.99 with all-MiniLM-L6-v2: "X works on
    /// NFS" and "X does not work on NFS"), and the practice is to repel a
    /// misleading note and deposit what is true `after` it: merged, the
    /// correction would vanish into the very note it corrects and reinforce
    /// it. Finding that note costs one `trail.sense` by meaning, only for
    /// default merges of deposits that have `after`.
    func plan(_ request: DepositRequest, _ choice: ToolArguments.Threshold?) async throws(ToolFailure) -> MergePlan {
        switch choice {
        case let .at(threshold)?:
            return MergePlan(threshold: threshold)
        case .off?:
            return MergePlan()
        case nil:
            guard let threshold = configuration.mergeSimilar, try await daemonComparesMeanings() else { return MergePlan() }
            var plan = MergePlan(threshold: threshold, isDefault: true)
            if !request.after.isEmpty, let nearest = await nearest(to: request.body, ns: request.ns, threshold: threshold),
               request.after.contains(where: { nearest.note.id.hex.hasPrefix($0.lowercased()) }) {
                plan.threshold = nil
                plan.heldBack = nearest
            }
            return plan
        }
    }

    /// Whether the daemon has its embedding model (`semantic` in `trail.hello`).
    /// A daemon that refuses hello is taken to have none.
    private func daemonComparesMeanings() async throws(ToolFailure) -> Bool {
        let raw: JSONValue
        do throws(TrailClientError) {
            raw = try await daemon.hello()
        } catch {
            if case .rpc = error { return false }
            throw .daemon(error)
        }
        do throws(WireDecodingError) {
            return try HelloRequest().decode(raw).semantic != nil
        } catch {
            throw .daemon(.protocolViolation(error.description))
        }
    }

    /// The live note closest in meaning to `body` at `threshold` or above:
    /// the one a merge would go to. Nil when there is none or the search
    /// fails (the deposit then reports its own errors).
    private func nearest(to body: String, ns: String?, threshold: Double) async -> ScoredNote? {
        let sense = SenseRequest(ns: ns, limit: 10, similar: body, minSimilarity: threshold)
        guard let notes = try? sense.decode(await daemon.call(sense.method, sense.params, idempotent: true)) else { return nil }
        return notes.filter { $0.similarity != nil }.max { ($0.similarity ?? -1) < ($1.similarity ?? -1) }
    }
}
