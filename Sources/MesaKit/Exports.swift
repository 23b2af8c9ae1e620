// MesaKit's API speaks in MesaWire's bodies (`Repo`, `Bookmark`, `Change`, `Page`, `Scope`, `AccessToken`, ...).
// Re-exporting the module lets users write only `import MesaKit`, as swift-nio's `NIO` re-exports `NIOCore`.
@_exported public import MesaWire
