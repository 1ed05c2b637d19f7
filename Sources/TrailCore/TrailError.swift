/// Everything a trail request can fail with, each case mapped to its
/// contract code and reason name in one place (`code`, `reason`).
public enum TrailError: Error, Equatable, Sendable {
    /// A parameter is missing, of the wrong type or out of range.
    case invalidParams(field: String?, message: String)
    /// No note with this id (or prefix) in the namespace.
    case unknownNote(id: String, ns: String)
    /// The body is larger than the namespace allows.
    case noteTooLarge(size: Int, limit: Int)
    /// The peer (`user alice (uid 1001)`) lacks `right` over namespace `ns`.
    case permissionDenied(ns: String, right: AccessRight, peer: String)
    /// The namespace name does not match the contract's pattern.
    case invalidNamespace(String)
    /// The daemon is shedding load.
    case overloaded
    /// The store cannot write or read.
    case storageUnavailable(String)
    /// A file of the store is damaged (a truncated, corrupt or missing
    /// archive pack, a corrupt database page; on PostgreSQL an archive block):
    /// answered as `storage_unavailable` naming it, for the calls that touch
    /// it; every other call goes on.
    case storageDamaged(file: String, why: String)
    /// An id prefix names more than one note.
    case ambiguousID(prefix: String, matches: [String])
    /// No such subscription on this connection.
    case unknownSubscription(String)
    /// The note is retracted.
    case retracted(id: String, retraction: Retraction)
    /// `similar` or `merge_similar` asked of a daemon without its embedding model.
    case semanticUnavailable(String)
    /// A bug: something that should not happen did.
    case `internal`(String)

    /// The contract's code for this error.
    public var errorCode: TrailErrorCode {
        switch self {
        case .invalidParams: .invalidParams
        case .unknownNote: .unknownNote
        case .noteTooLarge: .noteTooLarge
        case .permissionDenied: .permissionDenied
        case .invalidNamespace: .invalidNamespace
        case .overloaded: .overloaded
        case .storageUnavailable, .storageDamaged: .storageUnavailable
        case .ambiguousID: .ambiguousID
        case .unknownSubscription: .unknownSubscription
        case .retracted: .retracted
        case .semanticUnavailable: .semanticUnavailable
        case .internal: .internalError
        }
    }

    /// The JSON-RPC error code of the contract.
    public var code: Int { errorCode.rawValue }

    /// The name carried in `data.reason`.
    public var reason: String { errorCode.name }

    /// One sentence: what was wrong and what to do.
    public var message: String {
        switch self {
        case let .invalidParams(_, message):
            message
        case let .unknownNote(id, ns):
            "No note \(id) in namespace \(ns); check the id, or sense the namespace to find one."
        case let .noteTooLarge(size, limit):
            "The body is \(size) bytes but this namespace takes at most \(limit); split it into smaller notes linked with after."
        case let .permissionDenied(ns, right, peer):
            "\(peer.prefix(1).uppercased() + peer.dropFirst()) lacks the \(right) right in namespace \(ns); ask the daemon's operator to grant it in the config's access rules, or use a namespace open to you."
        case let .invalidNamespace(ns):
            "Namespace \(ns.debugDescription) is not valid; use 1 to 64 of a-z 0-9 . _ - starting with a letter or digit."
        case .overloaded:
            "The daemon is busy; retry after a short pause."
        case let .storageUnavailable(why):
            "The store cannot complete this (\(why)); retry later and check the daemon's log and disk."
        case let .storageDamaged(file, why):
            "The store cannot read \(file) (\(why)); run `trailctl check` to see what is damaged, and restore the store from a backup."
        case let .ambiguousID(prefix, _):
            "The prefix \(prefix) matches more than one note; give more hex digits."
        case let .unknownSubscription(sub):
            "No subscription \(sub.debugDescription) on this connection; use the id trail.watch returned."
        case let .retracted(id, retraction):
            "Note \(id) was retracted (\(retraction.reason)); pass force: true to deposit it again, or revive it."
        case let .semanticUnavailable(why):
            "Search by meaning is not available here (\(why)); install the model with `make model` (or Daemon/fetch-model.py, or the package trail-model-minilm) and restart traild, or search by words with query."
        case let .internal(why):
            "Internal error (\(why)); this is a bug in traild, please report it with the daemon's log."
        }
    }
}

/// The error codes of the contract (SPEC.md §6), JSON-RPC's and trail's own,
/// each with the name the daemon puts in `data.reason`.
public enum TrailErrorCode: Int, Sendable, CaseIterable {
    case parseError = -32700
    case invalidRequest = -32600
    case methodNotFound = -32601
    case invalidParams = -32602
    case internalError = -32603
    case unknownNote = -32001
    case noteTooLarge = -32002
    case permissionDenied = -32003
    case invalidNamespace = -32004
    case overloaded = -32005
    case storageUnavailable = -32006
    case ambiguousID = -32007
    case unknownSubscription = -32008
    case retracted = -32009
    case semanticUnavailable = -32010

    /// The contract's name for the code (`unknown_note`, `invalid_params`, ...).
    public var name: String {
        switch self {
        case .parseError: "parse_error"
        case .invalidRequest: "invalid_request"
        case .methodNotFound: "method_not_found"
        case .invalidParams: "invalid_params"
        case .internalError: "internal"
        case .unknownNote: "unknown_note"
        case .noteTooLarge: "note_too_large"
        case .permissionDenied: "permission_denied"
        case .invalidNamespace: "invalid_namespace"
        case .overloaded: "overloaded"
        case .storageUnavailable: "storage_unavailable"
        case .ambiguousID: "ambiguous_id"
        case .unknownSubscription: "unknown_subscription"
        case .retracted: "retracted"
        case .semanticUnavailable: "semantic_unavailable"
        }
    }
}
