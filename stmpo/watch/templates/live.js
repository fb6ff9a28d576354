(function () {
  "use strict";
  var box = document.getElementById("content");
  if (!box) { return; }
  var every = parseInt(box.getAttribute("data-refresh") || "2000", 10);
  function isFinal() { return !!box.querySelector("[data-final='1']"); }
  function refresh() {
    var url = location.pathname + location.search + (location.search ? "&" : "?") + "fragment=1";
    fetch(url, { cache: "no-store" }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    }).then(function (html) {
      box.innerHTML = html;
      document.body.classList.remove("offline");
      if (!isFinal()) { setTimeout(refresh, every); }
    }).catch(function () {
      document.body.classList.add("offline");
      setTimeout(refresh, every * 3);
    });
  }
  if (!isFinal()) { setTimeout(refresh, every); }
})();
