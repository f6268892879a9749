// A stop request on the wire: the run it names, as a log request names it.

extension StopRequest: WireMessage {
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
