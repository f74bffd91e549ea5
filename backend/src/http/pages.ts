/** HTML shells for the preact pages built into dist/web (see webpack.config.ts). */
export function pageShell(title: string, bundle: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
</head>
<body>
<div id="app"></div>
<script src="/assets/${bundle}"></script>
</body>
</html>`;
}
