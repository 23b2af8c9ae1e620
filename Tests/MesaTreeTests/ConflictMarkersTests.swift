import Foundation
import MesaTree
import Testing

@Suite struct ConflictMarkersTests {
    private static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
    private static func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    /// Two regions, one in diff3 style and one two-way, with clean lines and a one-sided insertion between them.
    static let file = """
        a
        <<<<<<< target
        t1
        ||||||| base
        b1
        =======
        s1
        s1 again
        >>>>>>> source
        c
        d
        <<<<<<< target
        =======
        s2
        >>>>>>> source
        e
        """

    @Test func regionsCarryTheirSidesAndTheirPlaceInEitherSidesFile() throws {
        let regions = ConflictMarkers.regions(in: Self.bytes(Self.file))
        try #require(regions.count == 2)
        #expect(Self.text(regions[0].target) == "t1\n" && Self.text(regions[0].base) == "b1\n")
        #expect(Self.text(regions[0].source) == "s1\ns1 again\n")
        #expect(regions[1].base == nil && regions[1].target.isEmpty && Self.text(regions[1].source) == "s2\n")
        #expect(regions[0].lines == 1..<9 && regions[1].lines == 11..<15)
        // Target file: a, t1, c, d, (nothing), e. Source file: a, s1, s1 again, c, d, s2, e.
        #expect(regions.map(\.targetStart) == [2, 5] && regions.map(\.targetLines) == [1, 0])
        #expect(regions.map(\.sourceStart) == [2, 6] && regions.map(\.sourceLines) == [2, 1])
        #expect(regions[0].id.hasPrefix("1-") && regions[1].id.hasPrefix("2-") && regions[0].id.count == 14)
    }

    @Test func idsChangeWithTheRegionsContentOnly() {
        let once = ConflictMarkers.regions(in: Self.bytes(Self.file))
        let elsewhere = ConflictMarkers.regions(in: Self.bytes("new first line\n" + Self.file))
        #expect(once.map(\.id) == elsewhere.map(\.id))
        let edited = ConflictMarkers.regions(in: Self.bytes(Self.file.replacingOccurrences(of: "t1", with: "t1!")))
        #expect(edited[0].id != once[0].id && edited[1].id == once[1].id)
    }

    @Test func malformedRegionsAreNotRegions() {
        let cases = [
            "<<<<<<< a\nx\n=======\ny\n",  // never closed
            "<<<<<<< a\nx\n>>>>>>> b\n",  // no separator
            "<<<<<<< a\n<<<<<<< b\nx\n=======\ny\n>>>>>>> c\n",  // opened twice: only the inner one is a region
            "<<<<<<<< a\nx\n=======\ny\n>>>>>>> b\n",  // eight marker characters
            "<<<<<<< a\nx\n======= y\ny\n>>>>>>> b\n",  // a labelled separator
        ]
        #expect(cases.map { ConflictMarkers.regions(in: Self.bytes($0)).count } == [0, 0, 1, 0, 0])
    }

    @Test func anEmptyUnlabelledBaseIsNoBaseAndALabelledOneIsAnEmptyBase() {
        let added = ConflictMarkers.regions(in: Self.bytes("<<<<<<< a\nx\n|||||||\n=======\ny\n>>>>>>> b\n"))
        let inserted = ConflictMarkers.regions(in: Self.bytes("<<<<<<< a\nx\n||||||| base\n=======\ny\n>>>>>>> b\n"))
        #expect(added.map(\.base) == [nil] && inserted.map(\.base) == [[]])
    }

    @Test func crlfLinesKeepTheirBreaks() throws {
        let region = try #require(ConflictMarkers.regions(in: Self.bytes("<<<<<<< a\r\nx\r\n=======\r\ny\r\n>>>>>>> b\r\n")).first)
        #expect(Self.text(region.target) == "x\r\n" && Self.text(region.source) == "y\r\n")
    }

    @Test func resolvingReplacesEachRegionAndNothingElse() throws {
        let regions = ConflictMarkers.regions(in: Self.bytes(Self.file))
        let resolved = try ConflictMarkers.resolve(
            Self.bytes(Self.file), [regions[0].id: .source, regions[1].id: .content(Self.bytes("mine\n"))])
        #expect(Self.text(resolved) == "a\ns1\ns1 again\nc\nd\nmine\ne")
        let targets = try ConflictMarkers.resolve(Self.bytes(Self.file), [regions[0].id: .target, regions[1].id: .target])
        #expect(Self.text(targets) == "a\nt1\nc\nd\ne")
    }

    @Test func aResolutionMustCoverExactlyTheRegions() {
        let regions = ConflictMarkers.regions(in: Self.bytes(Self.file))
        #expect(throws: MarkerResolutionError(unknownIDs: [], unresolved: [regions[1]])) {
            try ConflictMarkers.resolve(Self.bytes(Self.file), [regions[0].id: .target])
        }
        #expect(throws: MarkerResolutionError(unknownIDs: ["9-abc"], unresolved: [])) {
            try ConflictMarkers.resolve(
                Self.bytes(Self.file), [regions[0].id: .target, regions[1].id: .target, "9-abc": .source])
        }
    }
}
