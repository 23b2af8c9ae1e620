import Foundation
import Hummingbird

/// The `?tags=` filter of `GET /{org}/repos`: tag pairs a repo must all carry to be listed.
///
/// MESA-API.md allows two spellings and says never to refuse the parameter: a compact JSON object of strings
/// (`{"team":"infra"}`) or a comma list of `key:value` pairs (`team:infra,env:prod`, split at each pair's first colon,
/// spaces around items, keys and values ignored, empty items skipped). An empty value filters nothing. A value that
/// is neither (JSON that is not an object of strings, an item without a colon or with an empty key, text that is not
/// valid percent-encoding) matches no repo rather than being refused: a filter the server cannot read must not widen
/// the listing to every repo.
struct RepoTagFilter: Sendable {
    /// The pairs to match; `nil` when the filter could not be read (nothing matches).
    private let pairs: [(key: String, value: String)]?

    /// Reads the filter of a request (no `tags` parameter: no filter).
    init(_ request: Request) {
        guard request.uri.queryParameters.get("tags") != nil else {
            pairs = []
            return
        }
        pairs = (try? RouteSupport.query(request, "tags")).flatMap(Self.pairs)
    }

    /// Whether a repo with `tags` carries every pair of the filter.
    func matches(_ tags: [String: String]) -> Bool {
        pairs?.allSatisfy { tags[$0.key] == $0.value } ?? false
    }

    /// The pairs of filter text in either spelling, or `nil` when it is in neither.
    private static func pairs(_ text: String) -> [(key: String, value: String)]? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("{") {
            guard let object = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8)) else { return nil }
            return object.map { ($0.key, $0.value) }
        }
        var pairs: [(key: String, value: String)] = []
        for item in text.split(separator: ",") where !item.allSatisfy(\.isWhitespace) {
            guard let colon = item.firstIndex(of: ":") else { return nil }
            let key = item[..<colon].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else { return nil }
            pairs.append((key, item[item.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return pairs
    }
}
