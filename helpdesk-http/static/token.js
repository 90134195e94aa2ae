// Moves the single-use token from the link's fragment (#token=…), which browsers never send
// to a server, into the form, and hides the field that asks for it to be pasted by hand.
(function () {
  var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  var field = document.getElementById("token");
  if (!match || !field) { return; }
  field.value = decodeURIComponent(match[1]);
  var paste = document.getElementById("token-paste");
  if (paste) { paste.hidden = true; }
  history.replaceState(null, "", window.location.pathname);
})();
