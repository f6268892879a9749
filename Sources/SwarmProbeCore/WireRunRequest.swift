// Requests that only name a run (a log request, a stop request), on the wire: `{"run_id": ...}`.

/// A request whose whole body is the run it names.
public protocol RunNamingRequest: WireMessage {
    var runID: String { get }
    init(runID: String)
}

extension RunNamingRequest {
    public func write(to w: inout JSONLine) {
        w.raw("{\"run_id\":"); w.string(runID); w.raw("}")
    }

    public init(reading r: WireReader) throws(WireError) {
        var runID: String?
        try r.fields { key throws(WireError) in
            guard key == "run_id" else { return false }
            runID = try r.string()
            return true
        }
        self.init(runID: try r.required(runID, "run_id"))
    }
}

extension LogRequest: RunNamingRequest {}
extension StopRequest: RunNamingRequest {}
