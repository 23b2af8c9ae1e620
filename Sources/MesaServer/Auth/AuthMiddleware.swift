import Hummingbird

/// Authenticates every request it wraps and stores the ``Principal`` in the context; a refusal is a 401 with
/// Mesa's error body, never a 500.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = MesaRequestContext
    let services: ServerServices

    func handle(
        _ request: Request, context: MesaRequestContext,
        next: (Request, MesaRequestContext) async throws -> Response
    ) async throws -> Response {
        let header = request.headers[.authorization]
        let authenticator = services.authenticator
        let principal = try await services.blocking { try authenticator.authenticate(authorization: header) }
        var context = context
        context.principal = principal
        context.maxUploadSize = services.maxBodyBytes
        return try await next(request, context)
    }
}
