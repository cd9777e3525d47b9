import Fastify, { type FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { adminTokenVerifier } from "./auth/admin-token.ts";
import type { Config } from "./config.ts";
import type { Database } from "./db/index.ts";
import { useEmbeddedAdmission, type EmbeddedAdmission } from "./db/embedded-admission.ts";
import { useHttpMetrics } from "./metrics/http.ts";
import { useRequestLog } from "./surfaces/shared/request-log-hook.ts";
import { loggerOptions, OneLinePerRequest, type LogSink } from "./logging.ts";
import { requestId } from "./kernel/ids.ts";
import type { Services } from "./compose.ts";
import { demoInboxRoutes, demoRetailerGatewayRoutes } from "./demo/retailer-gateway.ts";
import { adminRoutes } from "./surfaces/admin/routes.ts";
import { consoleRoutes } from "./surfaces/console/routes.ts";
import { operationsRoutes } from "./surfaces/operations/routes.ts";
import { linkPageRoutes } from "./surfaces/connections/link-page.ts";
import { inboundWebhookRoutes } from "./surfaces/inbound/routes.ts";
import { connectionsRoutes } from "./surfaces/connections/routes.ts";
import { integrationsRoutes } from "./surfaces/integrations/routes.ts";
import { shopIntegrationsRoutes } from "./surfaces/shop-integrations/routes.ts";
import { oauth2Routes } from "./surfaces/oauth2/routes.ts";
import { ShuttingDownError } from "./kernel/errors.ts";
import { answerUnknownRoutes, clientErrorAnswer, sendErrorByPath, withErrorResponses } from "./surfaces/errors-by-path.ts";
import { finishOpenApiDocument } from "./surfaces/openapi-finish.ts";
import { FlatErrorSchema } from "./surfaces/shared/flat-errors.ts";
import { compiledOnFirstUse, PendingCompiles, validatorFactory } from "./surfaces/shared/validator.ts";
import SerializerSelector from "@fastify/fast-json-stringify-compiler";
import { OPENAPI_TAGS } from "./surfaces/openapi-tags.ts";

type ValidatorFactory = ReturnType<typeof validatorFactory>;

declare module "fastify" {
  interface FastifyInstance {
    /** Compiles every validator and serializer not compiled yet (they are built on first use); how many there were. */
    compilePendingSchemas(): number;
  }
}

/**
 * Fastify asks for a validator compiler once per plugin context that has
 * routes (29 at the last count), and each compiler is two Ajv instances with
 * ajv-formats and every shared schema added: about two thirds of the
 * start-up's CPU (BENCHMARKS.md). Contexts that share the same schemas (the
 * same objects) now share one compiler, as Fastify's default Ajv compiler
 * does; there are 4 such sets. Compiled route validators are unchanged.
 */
function sharedValidatorCompilers(build: ValidatorFactory): ValidatorFactory {
  const built: Array<{ schemas: Set<unknown>; compiler: ReturnType<ValidatorFactory> }> = [];
  return ((externalSchemas: Record<string, unknown> | undefined, ajvOptions: unknown) => {
    const schemas = new Set(Object.values(externalSchemas ?? {}));
    const same = built.find((b) => b.schemas.size === schemas.size && [...schemas].every((s) => b.schemas.has(s)));
    if (same) return same.compiler;
    const compiler = (build as (e: unknown, o: unknown) => ReturnType<ValidatorFactory>)(externalSchemas, ajvOptions);
    built.push({ schemas, compiler });
    return compiler;
  }) as ValidatorFactory;
}

type SerializerFactory = ReturnType<typeof SerializerSelector>;

/**
 * Fastify's own response serializers (fast-json-stringify), each compiled on
 * the route's first response with that status instead of at start-up
 * (compiledOnFirstUse): the serializers were a third of the start-up's
 * schema work.
 */
function serializersOnFirstUse(build: SerializerFactory, pending: PendingCompiles): SerializerFactory {
  return ((externalSchemas: unknown, options: unknown) => {
    const compile = (build as (e: unknown, o: unknown) => (route: unknown) => (data: unknown) => string)(externalSchemas, options);
    return (route: unknown) => compiledOnFirstUse(() => compile(route), pending);
  }) as unknown as SerializerFactory;
}

/**
 * Node's defaults let a client take 60 s over its headers and 300 s over a
 * request, and check only every 30 s: a few dozen trickling sockets hold the
 * server's connections for minutes (issue 13). The check runs at least every
 * second, or more often when the bounds are shorter.
 */
function slowClientBounds(t: Config["httpTimeouts"]) {
  return {
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    http: { headersTimeout: t.headersMs, connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(t.headersMs / 4))) },
  };
}

export interface AppDeps {
  config: Config;
  db: Database;
  services: Services;
  adminToken: string;
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: LogSink;
  /** The database pool's figures for /metrics. */
  poolStats?: () => { inUse: number; waiting: number; total: number };
  /** Embedded database: the bound on requests running and waiting (embedded-admission.ts); none on PostgreSQL. */
  admission?: EmbeddedAdmission;
}

/** Builds the Fastify instance: plugins, the surfaces, /healthz, /openapi.json, /docs. */
export async function buildApp({ config, db, services, adminToken, logStream, poolStats, admission }: AppDeps): Promise<FastifyInstance> {
  const compiles = new PendingCompiles();
  const genReqId = requestId;
  const app = Fastify({
    logger: loggerOptions(config.logLevel, logStream),
    logController: new OneLinePerRequest(),
    bodyLimit: config.bodyLimitBytes,
    ...slowClientBounds(config.httpTimeouts),
    genReqId,
    // Refused before routing (a bad URL) or by Node's HTTP parser: still in the path's surface shape.
    frameworkErrors: (err, request, reply) => sendErrorByPath(request, reply, err),
    clientErrorHandler: clientErrorAnswer(genReqId),
    requestIdHeader: false,
    trustProxy: false,
    // While closing, new requests are refused by the hook below, in their surface's shape (Fastify's own 503 has none).
    return503OnClosing: false,
    schemaController: { compilersFactory: { buildValidator: sharedValidatorCompilers(validatorFactory(compiles)), buildSerializer: serializersOnFirstUse(SerializerSelector(), compiles) } },
  });
  app.addSchema(FlatErrorSchema);
  app.decorate("compilePendingSchemas", () => compiles.compileAll());

  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  // Callback style: no promise per request for a hook that does not wait.
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    if (!closing) return done();
    reply.header("connection", "close");
    sendErrorByPath(request, reply, new ShuttingDownError());
  });
  if (admission) useEmbeddedAdmission(app, admission);

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Patchbay",
        version: "0.1.0",
        description: "Self-hosted integrations hub: connectors (/v1/integrations), customer connections (/connections), shop integrations (/api/v3/integrations) and the admin API (/admin/v1).",
        license: { name: "Proprietary", url: `${config.publicUrl}/docs` },
      },
      servers: [{ url: config.publicUrl, description: "This server (PATCHBAY_PUBLIC_URL)" }],
      tags: OPENAPI_TAGS,
      components: {
        securitySchemes: {
          bearerAuth: { type: "http", scheme: "bearer", description: "An entity API key: ark_live_ent_… or ark_test_ent_…" },
          adminAuth: { type: "http", scheme: "bearer", description: "The admin token (PATCHBAY_ADMIN_TOKEN)" },
          apiKeyHeader: { type: "apiKey", in: "header", name: "x-api-key", description: "The client's API key secret value (connections surface)" },
          connectionToken: { type: "http", scheme: "bearer", description: "A connection-specific token with access scope" },
          basicAuth: { type: "http", scheme: "basic", description: "/api/v3: user = the API key's public_key, password = the API key" },
          oauth2ClientCredentials: {
            type: "oauth2",
            description: "/api/v3, the Sendcloud v3 spec's OAuth2ClientCreds: POST /oauth2/token with grant_type=client_credentials, client id = the API key's public_key, client secret = the API key; the bearer token lasts an hour.",
            flows: { clientCredentials: { tokenUrl: `${config.publicUrl}/oauth2/token`, scopes: { api: "The one scope: what the key's scopes allow on /api/v3" } } },
          },
          metricsToken: { type: "http", scheme: "bearer", description: "The metrics token (PATCHBAY_METRICS_TOKEN)" },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`) },
    transform: withErrorResponses,
    transformObject: (document) => finishOpenApiDocument("openapiObject" in document ? document.openapiObject : document.swaggerObject),
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  // Errors of the root (its routes, and bodies of requests no route takes) answer in the shape of the path's surface.
  app.setErrorHandler((err, request, reply) => sendErrorByPath(request, reply, err));
  answerUnknownRoutes(app);
  useHttpMetrics(app, services.metrics);
  if (poolStats) services.metrics.sources.pool = poolStats;

  await app.register(operationsRoutes, { db, metrics: services.metrics, metricsToken: config.metrics.token, jobsEnabled: config.jobsEnabled, jobsRunning: () => services.jobs.running });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  // A shared rate-limit store (Redis) should be connected before the first request counts.
  app.addHook("onReady", async () => services.rateLimiter.ready());
  app.addHook("onClose", async () => services.rateLimiter.close());
  app.addHook("onClose", async () => services.proxyTransport.close());
  app.addHook("onClose", async () => services.callLog.close());
  // The API request log: one append per answered request of an entity's key (PATCHBAY_REQUEST_LOG=false: none).
  if (config.requestLog.enabled) useRequestLog(app, services.requestLog);
  app.addHook("onClose", async () => services.requestLog.close());
  app.addHook("onClose", async () => {
    services.admission.close();
    services.credentials.close();
  });

  await app.register(integrationsRoutes, { services });
  await app.register(connectionsRoutes, { services });
  await app.register(linkPageRoutes, { services, publicUrl: config.publicUrl });
  // PATCHBAY_DEMO_RETAILER_GATEWAY: a stand-in retailer gateway in this very server (README "Customer connections").
  if (config.demoRetailerGateway) {
    await app.register(demoRetailerGatewayRoutes(), { prefix: "/demo/retailer-gateway" });
    await app.register(demoInboxRoutes(), { prefix: "/demo" });
    app.log.warn(
      { gateway: config.providerUrls.retailers },
      "the demo retailer gateway is on: retailer logins are checked against its test logins (README \"Customer connections\"); set PATCHBAY_DEMO_RETAILER_GATEWAY=false and PATCHBAY_PROVIDER_URL_RETAILERS for real retailers",
    );
  }
  await app.register(inboundWebhookRoutes, { services, config });
  await app.register(shopIntegrationsRoutes, { services, publicUrl: config.publicUrl, prefix: "/api/v3" });
  await app.register(oauth2Routes, { services });
  await app.register(consoleRoutes);
  await app.register(adminRoutes, { services, adminToken: adminTokenVerifier(adminToken) });
  return app;
}
