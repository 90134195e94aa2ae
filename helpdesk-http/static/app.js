// Enhancements only: every page works without this file.
(function () {
  "use strict";

  // A mailed link carries its single-use token in the fragment (#token=…), which browsers
  // never send to a server: move it into the form and hide the field that asks to paste it.
  var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  var token = document.getElementById("token");
  if (match && token) {
    token.value = decodeURIComponent(match[1]);
    var paste = document.getElementById("token-paste");
    if (paste) { paste.hidden = true; }
    history.replaceState(null, "", window.location.pathname);
  }

  // A show/hide switch beside every password field.
  var fields = document.querySelectorAll("input[type=password]");
  Array.prototype.forEach.call(fields, function (input) {
    var wrap = document.createElement("span");
    wrap.className = "reveal";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    var button = document.createElement("button");
    button.type = "button";
    var verb = document.createElement("span");
    var noun = document.createElement("span");
    verb.textContent = "Show";
    noun.textContent = " password";
    noun.className = "visually-hidden";
    button.appendChild(verb);
    button.appendChild(noun);
    if (input.id) { button.setAttribute("aria-controls", input.id); }
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      verb.textContent = show ? "Hide" : "Show";
    });
    wrap.appendChild(button);
  });
})();
