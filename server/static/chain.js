// Entity pages (entity.html): run where the chain diagram ends, so that it is in place.
// a wide chain opens at this page's action rather than at its earliest one
document.querySelectorAll(".diagram").forEach(function (box) {
  var svg = box.querySelector("svg[data-focus-x]");
  if (svg) { box.scrollLeft = Math.max(0, +svg.dataset.focusX - box.clientWidth / 3); }
});
