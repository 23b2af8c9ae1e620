import Foundation

/// Mesa's error body: `{"error": {"code": "...", "message": "...", "details": {...}?, "trace_id": "..."?}}`.
/// `details` is an object or absent, never `null` (MESA-API.md, wire details).
public struct ErrorBody: Codable, Sendable, Equatable {
    /// The error itself.
    public var error: Detail

    /// The fields of an error.
    public struct Detail: Codable, Sendable, Equatable {
        /// A stable machine-readable code such as `NOT_FOUND` or `MERGE_CONFLICT`.
        public var code: String
        /// A sentence for people: what went wrong and what to do.
        public var message: String
        /// Structured context (for example `conflict_paths`).
        public var details: [String: JSONValue]?
        /// The request's trace id, when the server has one.
        public var traceID: String?

        enum CodingKeys: String, CodingKey {
            case code, message, details
            case traceID = "trace_id"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(code, forKey: .code)
            try container.encode(message, forKey: .message)
            try container.encodeIfPresent(details, forKey: .details)
            try container.encodeIfPresent(traceID, forKey: .traceID)
        }
    }

    /// Creates an error body.
    public init(code: String, message: String, details: [String: JSONValue]? = nil, traceID: String? = nil) {
        error = Detail(code: code, message: message, details: details, traceID: traceID)
    }
}

extension ErrorBody {
    /// The body as compact JSON.
    public var jsonBytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // An ErrorBody holds only strings and JSON values, which always encode.
        return Array((try? encoder.encode(self)) ?? Data())
    }

    /// Decodes an error body from JSON bytes.
    public init?(jsonBytes: [UInt8]) {
        guard let body = try? JSONDecoder().decode(ErrorBody.self, from: Data(jsonBytes)) else { return nil }
        self = body
    }
}

/// Any JSON value, for free-form fields such as error details and tags.
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
