// Stands in for the VS Code host of the Toy Fine-tune view: state in sessionStorage (a reload plays the part of
// hide/show), `context` on ready, and on start the messages recorded from a real run, paced by the test.
(() => {
  const fx = window.__fixture;
  const params = new URLSearchParams(location.search);
  document.body.className = params.get('body') || 'vscode-dark';
  const posted = (window.__posted = []);
  const violations = (window.__violations = []);
  document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  const send = (msg) => window.postMessage(msg, '*');
  // ?run=blowUp (or diverged, stoppedInit) plays another recorded run.
  const recorded = fx[params.get('run') || 'run'];
  let next = 0;
  // The test releases recorded messages up to a given type, so it can look at the view mid-run.
  window.__release = (untilType, count = 1) => {
    while (next < recorded.length) {
      const m = recorded[next++];
      send(m);
      if (m.type === untilType && --count === 0) break;
    }
  };
  window.__send = send;
  const answer = (m) => {
    if (m.type === 'ready') send(fx.context);
    if (m.type === 'start') { next = 0; window.__release('runStarting'); }
    if (m.type === 'pause') send({ type: 'paused' });
    if (m.type === 'resume') send({ type: 'resumed' });
    if (m.type === 'stop') send({ type: 'stopping' });
  };
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => { posted.push(JSON.parse(JSON.stringify(m))); answer(m); },
    getState: () => JSON.parse(sessionStorage.getItem('state') || 'null') ?? undefined,
    setState: (s) => sessionStorage.setItem('state', JSON.stringify(s)),
  });
})();
