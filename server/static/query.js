// The query page (home.html): YASGUI with the example queries. A file of its own, not an
// inline script, so that the pages' Content-Security-Policy allows scripts from this
// server only.
(function () {
  var examples = {};
  JSON.parse(document.getElementById("examples-data").textContent).forEach(function (e) {
    examples[e.name] = e;
  });
  // Read before YASGUI starts: it keeps its own tab state in the URL's fragment.
  var requested = new URLSearchParams(window.location.search).get("run");
  var endpoint = new URL("/sparql", window.location.href).href;
  // Results show prefixed names (rv:Sanction, action:us-ofac-...) with the graph's own
  // prefixes, besides those the query declares.
  var prefixes = JSON.parse(document.getElementById("prefixes-data").textContent);
  var yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: false,
    yasr: { prefixes: prefixes },
  });
  function run(name) {
    var e = examples[name];
    if (!e) return;
    var tab = yasgui.addTab(true, { name: e.title, requestConfig: { endpoint: endpoint } });
    tab.setQuery(e.text);
    tab.getYasqe().query();
    document.getElementById("yasgui").scrollIntoView();
  }
  document.querySelectorAll(".run-example").forEach(function (button) {
    button.addEventListener("click", function () { run(button.dataset.example); });
  });
  // A link such as /?run=cq13-ai-diffusion-tiers opens and runs that example.
  if (requested) run(requested);
})();
