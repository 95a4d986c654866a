"""The napari / Qt layer of napari-semia: the dock widget, its workers and the
sample-data provider. Everything that imports napari, Qt, superqt, magicgui
or pyqtgraph lives in this subpackage; the core beside it imports none of it.
"""
