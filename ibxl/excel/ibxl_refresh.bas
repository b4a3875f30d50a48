Attribute VB_Name = "ibxlRefresh"
' ibxl: keeps ibxl's cells live in classic desktop Excel by recalculating only the cells whose
' formula calls an IB_ function, every RefreshSeconds (each recalculation reads ibxl's quote
' cache, so it is cheap). Import this module (Alt+F11, File > Import), then run ibxlStartRefresh,
' or call it from Workbook_Open. ibxlStopRefresh stops it.
Option Explicit

Public Const RefreshSeconds As Double = 1
Private NextRun As Date
Private Running As Boolean

Public Sub ibxlStartRefresh()
    Running = True
    ScheduleNext
End Sub

Public Sub ibxlStopRefresh()
    Running = False
    On Error Resume Next
    Application.OnTime NextRun, "ibxlRefreshTick", , False
End Sub

Private Sub ScheduleNext()
    NextRun = Now + RefreshSeconds / 86400#
    Application.OnTime NextRun, "ibxlRefreshTick"
End Sub

Public Sub ibxlRefreshTick()
    Dim ws As Worksheet, cell As Range, formulas As Range
    If Not Running Then Exit Sub
    For Each ws In ThisWorkbook.Worksheets
        Set formulas = Nothing
        On Error Resume Next
        Set formulas = ws.UsedRange.SpecialCells(xlCellTypeFormulas)
        On Error GoTo 0
        If Not formulas Is Nothing Then
            For Each cell In formulas
                If InStr(1, cell.Formula, "IB_", vbTextCompare) > 0 Then cell.Calculate
            Next cell
        End If
    Next ws
    ScheduleNext
End Sub
