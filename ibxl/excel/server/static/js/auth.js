// ibxl: the token of `ibxl excel serve` arrives once in the add-in's URL (?ibxl_token=..., put there
// by `ibxl excel manifest --token`); it is kept in the add-in's local storage and sent with every call.
globalThis.getAuth = async function () {
  const key = "ibxl-token";
  const fromUrl = new URLSearchParams(window.location.search).get("ibxl_token");
  if (fromUrl) {
    localStorage.setItem(key, fromUrl);
  }
  return { token: localStorage.getItem(key) || "", provider: "custom" };
};
