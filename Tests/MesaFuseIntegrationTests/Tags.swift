import Testing

extension Tag {
    /// Tests that mount a real FUSE filesystem (STYLE.md section 8).
    @Tag static var fuse: Self
}
