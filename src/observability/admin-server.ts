import {
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import {
  createServer,
  IncomingMessage,
  Server,
  ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { appConfig } from '../config';
import { MetricsService } from './metrics.service';

/** A route another module adds to the admin port (readiness details): its status and JSON body. */
export type AdminRoute = () => Promise<{ status: number; body: unknown }>;

/**
 * The admin port (ADMIN_HOST:ADMIN_PORT, 127.0.0.1:9464 by default): `GET /metrics` for Prometheus,
 * kept off the API port so that the public can neither read order volume nor load the scrape path
 * (a flood of /metrics on the API port slowed every order request). A plain node:http server:
 * nothing here needs Nest's pipeline, guards or rate limits.
 */
@Injectable()
export class AdminServer implements OnApplicationShutdown {
  private readonly logger = new Logger('Admin');
  private server: Server | undefined;
  private readonly routes = new Map<string, AdminRoute>();

  constructor(
    private readonly metrics: MetricsService,
    @Inject(appConfig.KEY)
    private readonly config: ConfigType<typeof appConfig>,
  ) {}

  /** Serves `GET path` on the admin port (call it before listen). */
  addRoute(path: string, route: AdminRoute): void {
    this.routes.set(path, route);
  }

  /** Starts listening (port 0: any free port) and resolves with the base URL. */
  async listen(
    port = this.config.adminPort,
    host = this.config.adminHost,
  ): Promise<string> {
    const server = createServer(
      (request, response) => void this.serve(request, response),
    );
    server.maxConnections = 64;
    server.requestTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    // At debug: main.ts's start-up line names it already.
    this.logger.debug(`metrics on ${url}/metrics`);
    return url;
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server?.listening) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  private async serve(
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const path = request.url?.split('?', 1)[0] ?? '';
    const route = this.routes.get(path);
    if (request.method === 'GET' && path === '/metrics') {
      const text = await this.metrics.registry.metrics();
      response
        .writeHead(200, {
          'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        })
        .end(text);
    } else if (request.method === 'GET' && route) {
      const { status, body } = await route().catch((error: unknown) => ({
        status: 500,
        body: { error: { code: 'INTERNAL', message: String(error) } },
      }));
      response
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify(body));
    } else {
      const served = ['/metrics', ...this.routes.keys()].join(', ');
      response.writeHead(404, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          error: {
            code: 'NOT_FOUND',
            message: `The admin port serves GET ${served} only`,
          },
        }),
      );
    }
  }
}
