import TrailCore
import TrailProtocol

/// What the daemon does with one line, checked: `JSONReader` parses it,
/// `JSONWriter` writes the value back and the reader reads the same value, and
/// each request (or each member of a batch) goes through `RPCRequest` and
/// `Call` the way the dispatcher reads it. A broken invariant stops the
/// fuzzer with the input saved; a thrown error is the expected answer to bad
/// input and must carry a code of the contract.
public enum RequestChecks {
    /// The codes of the contract (SPEC §6).
    public static let contractCodes = Set([-32700, -32600, -32601, -32602, -32603] + Array(-32010 ... -32001))

    public static func line(_ bytes: some Collection<UInt8>) {
        let value: JSONValue
        do {
            value = try JSONReader.parse(bytes)
        } catch {
            require(error.offset >= 0 && error.offset <= bytes.count, "a read error points outside the input: \(error)")
            return
        }
        roundTrip(value)
        if case let .array(items) = value {
            for item in items { request(item) }
        } else {
            request(value)
        }
    }

    /// The writer's text reads back as the same value (numbers compared by value:
    /// the writer writes a whole double as an integer).
    public static func roundTrip(_ value: JSONValue) {
        let text = JSONWriter.bytes(value)
        let again: JSONValue
        do {
            again = try JSONReader.parse(text)
        } catch {
            fail("JSONWriter wrote text that JSONReader refuses (\(error)): \(String(decoding: text, as: UTF8.self))")
        }
        require(same(value, again), "the round trip changed the value: \(String(decoding: text, as: UTF8.self))")
        require(JSONWriter.bytes(again) == text, "writing the value read back gives other text")
    }

    static func request(_ value: JSONValue) {
        let request: RPCRequest
        do {
            request = try RPCRequest(value)
        } catch {
            require(contractCodes.contains(error.rpcError.code), "RPCRequest answered code \(error.rpcError.code)")
            return
        }
        for agent in [nil, "fuzz-agent"] as [String?] {
            do {
                _ = try Call(method: request.method, params: request.params, agent: agent)
            } catch {
                require(contractCodes.contains(error.rpcError.code), "Call answered code \(error.rpcError.code) for \(request.method)")
            }
        }
        // The client reads the same shapes back from responses.
        if case let .object(o) = value, let note = o["params"] {
            _ = try? WireDecode.note(note)
        }
    }

    /// Equal JSON values, numbers by value.
    public static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.string(x), .string(y)): Array(x.utf8) == Array(y.utf8)
        case let (.array(x), .array(y)): x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case let (.object(x), .object(y)):
            x.count == y.count && zip(x.members, y.members).allSatisfy { Array($0.key.utf8) == Array($1.key.utf8) && same($0.value, $1.value) }
        default:
            if let x = a.number, let y = b.number { x == y } else { false }
        }
    }
}

/// Stops the fuzzer (libFuzzer saves the input) when `condition` is false.
public func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

public func fail(_ message: String) -> Never {
    fatalError("fuzz invariant: \(message)")
}
