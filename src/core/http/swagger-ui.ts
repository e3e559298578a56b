/**
 * Serves the OpenAPI document as JSON (`/swagger/v1/swagger.json`, `/openapi.json`) and Swagger
 * UI (`/swagger`, assets from the installed swagger-ui-dist package, no CDN). Public.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { Router, type Request, type Response } from 'express';
import { openApiDocument } from './openapi.js';
import type { AnyRoute } from './route.js';

export const SPEC_PATH = '/swagger/v1/swagger.json';
export const SPEC_ALIAS = '/openapi.json';
export const UI_PATH = '/swagger';

/** The files of swagger-ui-dist the page needs; nothing else of the package is served. */
const UI_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'index.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

const INDEX_HTML = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Config Service API</title>
    <link rel="stylesheet" type="text/css" href="${UI_PATH}/swagger-ui.css">
    <link rel="stylesheet" type="text/css" href="${UI_PATH}/index.css">
    <link rel="icon" type="image/png" href="${UI_PATH}/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="${UI_PATH}/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${UI_PATH}/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="${UI_PATH}/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="${UI_PATH}/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
`;

const INITIALIZER_JS = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(SPEC_PATH)},
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: 'StandaloneLayout',
  });
};
`;

/** The document of `routes` as JSON, and Swagger UI at /swagger (and /swagger/, /swagger/index.html). */
export function openApiRouter(routes: readonly AnyRoute[]): Router {
  const uiDir = path.dirname(
    createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'),
  );
  let spec: string | undefined;
  const r = Router();
  // One route per path (not an array), so the http metrics' route label stays readable.
  const sendSpec = (_req: Request, res: Response) => {
    spec ??= JSON.stringify(openApiDocument(routes));
    res.type('application/json; charset=utf-8').send(spec);
  };
  r.get(SPEC_PATH, sendSpec);
  r.get(SPEC_ALIAS, sendSpec);
  const sendIndex = (_req: Request, res: Response) => {
    res.type('text/html; charset=utf-8').send(INDEX_HTML);
  };
  r.get(UI_PATH, sendIndex); // also /swagger/ (routes are not strict)
  r.get(`${UI_PATH}/index.html`, sendIndex);
  r.get(`${UI_PATH}/swagger-initializer.js`, (_req, res) => {
    res.type('text/javascript; charset=utf-8').send(INITIALIZER_JS);
  });
  r.get(`${UI_PATH}/:asset`, (req, res, next) => {
    const asset = req.params.asset;
    const type = Object.hasOwn(UI_ASSETS, asset) ? UI_ASSETS[asset] : undefined;
    if (!type) {
      next();
      return;
    }
    res.type(type);
    res.sendFile(asset, { root: uiDir, maxAge: '1h' }, (error) => {
      if (error) next(error);
    });
  });
  return r;
}
