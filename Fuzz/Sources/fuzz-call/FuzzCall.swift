import FuzzChecks

/// One request line: the JSON reader, the writer's round trip, RPCRequest and
/// Call (RequestChecks).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCall(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    RequestChecks.line(UnsafeBufferPointer(start: data, count: size))
    return 0
}
