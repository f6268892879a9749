import Crypto
import Foundation

/// Reads a text file, turning the failure into an `InputError` naming it.
public func readInputFile(_ path: String, what: String) throws(InputError) -> String {
    do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw InputError(source: path, "\(what): cannot read the file (\(describeFileError(error)))")
    }
}

func describeFileError(_ error: any Error) -> String {
    let ns = error as NSError
    if let under = ns.userInfo[NSUnderlyingErrorKey] as? NSError, under.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(under.code)))
    }
    if ns.domain == NSCocoaErrorDomain {
        switch ns.code {
        case NSFileReadNoSuchFileError, NSFileNoSuchFileError: return "no such file"
        case NSFileReadNoPermissionError: return "permission denied"
        case NSFileReadInapplicableStringEncodingError: return "not UTF-8 text"
        default: break
        }
    }
    return ns.localizedDescription
}
