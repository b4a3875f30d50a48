"""ibxl in Excel: worksheet functions written once (``functions``), served to classic desktop
Excel by xlwings UDFs (``classic``) and to Excel on Windows, Mac and the web by xlwings Server
(``server/custom_functions``)."""
