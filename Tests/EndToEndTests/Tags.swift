import Testing

extension Tag {
    /// Tests that run the built `mesa` binary as real processes (STYLE.md section 8).
    @Tag static var e2e: Self
}
