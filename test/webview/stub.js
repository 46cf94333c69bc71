// Stands in for the VS Code webview host in the browser test: acquireVsCodeApi keeps state in
// sessionStorage (so a reload plays the part of hide/show) and answers with recorded real messages.
(() => {
  const fx = window.__fixture;
  const params = new URLSearchParams(location.search);
  document.body.className = params.get('body') || 'vscode-dark';
  const posted = (window.__posted = []);
  const violations = (window.__violations = []);
  document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  let analysis = params.get('variant') === 'noatt' ? fx.noAttention : fx.analysis;
  // An engine without gradients (llama.cpp, a server) says so with the analysis.
  if (params.get('gradientsNote')) analysis = { ...analysis, gradientsNote: params.get('gradientsNote') };
  let selected = analysis.selected;
  let controls = analysis.controls;
  const send = (msg) => setTimeout(() => window.postMessage(msg, '*'), 5);
  const distribution = () => {
    const d = fx.distributions[`${selected}|${controls.temperature}|${controls.topK}|${controls.topP}`];
    send(d || { type: 'error', message: `no recorded distribution for ${selected} ${JSON.stringify(controls)}` });
  };
  const answer = (m) => {
    switch (m.type) {
      case 'ready':
        if (params.get('silent') !== '1') send(analysis);
        break;
      case 'selectPosition':
        selected = m.position;
        distribution();
        break;
      case 'setControls':
        controls = { temperature: m.temperature, topK: m.topK, topP: m.topP };
        distribution();
        break;
      case 'requestAttention':
        // As the host posts it: the matrix as a Float32Array.
        send({ ...fx.attention[`${m.layer}|${m.head}`], weights: Float32Array.from(fx.attention[`${m.layer}|${m.head}`].weights) });
        send(fx.grids[m.layer]);
        break;
      case 'requestLogitLens': {
        // Progress first, then the recorded lens (or the note of a model without hidden states).
        const lens = params.get('variant') === 'nolens' ? fx.noLogitLens : fx.logitLens;
        send({ type: 'lensStatus', lens: 'logitLens', status: 'running', message: 'Logit lens: 1 of 2…', done: 1, total: 2 });
        if (params.get('hold') !== 'lens') setTimeout(() => send(lens), 30);
        break;
      }
      case 'requestAttribution': {
        const key = `${m.method}|${m.target}|${m.contrast}|${m.steps}`;
        const recorded = fx.attributions[key];
        send({ type: 'lensStatus', lens: 'attribution', status: 'running', message: 'Attribution…', done: 0, total: 0 });
        if (params.get('hold') === 'attribution') break;
        setTimeout(() => send(recorded || { type: 'lensStatus', lens: 'attribution', status: 'failed', message: `no recorded attribution ${key}`, done: 0, total: 0 }), 30);
        break;
      }
      case 'cancelLens':
        send({ type: 'lensStatus', lens: params.get('hold') === 'lens' ? 'logitLens' : 'attribution', status: 'cancelled', message: 'Cancelled.', done: 0, total: 0 });
        break;
      case 'appendToken':
        if (m.tokenId !== fx.appended.tokenId) { send({ type: 'error', message: 'unrecorded token' }); break; }
        send({ type: 'busy', message: 'Analysing…' });
        analysis = fx.appended.analysis;
        selected = analysis.selected;
        setTimeout(() => send(analysis), 50);
        break;
    }
  };
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => { posted.push(JSON.parse(JSON.stringify(m))); answer(m); },
    getState: () => JSON.parse(sessionStorage.getItem('state') || 'null') ?? undefined,
    setState: (s) => sessionStorage.setItem('state', JSON.stringify(s)),
  });
})();
